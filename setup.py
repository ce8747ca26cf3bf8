"""Packages for setuptools: every package under djsqlgen/ as found on disk, and sql_templates/ shipped as
djsqlgen.sql_templates (pyproject.toml maps the directory). The rest of the configuration is in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["djsqlgen", "djsqlgen.*"]), "djsqlgen.sql_templates"])
