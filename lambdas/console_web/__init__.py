"""The fraud console's web layer: requests and responses (``web``), the pages and the JSON API (``views``),
the jinja2 templates and the static files. Zipped with the console function only (lambdas/functions.json
``files``), with jinja2 and MarkupSafe (``vendor``); the domain it shows lives in ``fraud`` (cases, lists,
labels, quality)."""
