"""``python -m djsqlgen`` runs the command line."""

from .cli import main

main()
