"""Everything that turns statements into files a DBA reads: names, quoting, templates, phase files, runbook."""
