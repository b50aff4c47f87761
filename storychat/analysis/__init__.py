"""Know your backlog: duplicates, quality lint, roles and epics."""
