"""``python -m djsqlgen`` runs the command line."""

from djsqlgen.cli import main

main()
