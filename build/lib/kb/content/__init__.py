"""Articles as content: the article model and its Markdown-with-front-matter format, parsing, lint,
rendering to sanitised HTML, and revisions (a revision id per published text, and the snapshot of
texts a search bundle was built from). Plain Python: no database, no search, no Flask."""
