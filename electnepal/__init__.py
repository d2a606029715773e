"""The project package: settings, URLs, WSGI, and the pages and helpers that belong to no app."""
