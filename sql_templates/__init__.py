"""SQL templates of djsqlgen (jinja2); shipped in the wheel as djsqlgen.sql_templates."""
