"""Everything that turns the phases' statements into what a DBA reads: the files, RUNBOOK.md, manifest.json."""
