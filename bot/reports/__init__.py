"""Reports for a support lead: figures per day and language from the tracker store and the product database.

`period` (which days, in which time zone), `dialect` (the SQL that differs between SQLite and
PostgreSQL), `figures` (the SQL and its plain
results), and the three ways to show them: `text` (terminal), `html` with `svg` (the page), and
`Report.as_dict` (JSON); `formats` writes numbers the same way in the first two.
"""
