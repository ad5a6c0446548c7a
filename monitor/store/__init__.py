"""The only owner of sessions and SQL. Modules by area; each function takes a Session."""
