"""Know your backlog: ``duplicates`` (copies and near-copies), ``lint`` (QUS
quality rules), ``roles`` (role and epic indexes, exact lists and counts) and
``export`` (their results as JSON records and CSV files)."""
