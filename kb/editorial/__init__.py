"""The editors' side of the knowledge base: articles and every revision in the database, the
publish workflow, import/export to the `articles/` folder format, agents' flags on articles, the
editors' worklist, and keeping each server's search index in line with what is published.
"""
