"""Rendering an email: one template name, three parts, one language.

- ``templates``: ``render`` (subject, text, HTML with CSS inlined), ``RenderedEmail``,
  ``clean_subject``, ``inline_css``, ``contact_email``, ``base_context``;
- ``samples``: every kind of email with its sample context: ``kinds``, ``languages``,
  ``languages_of``, ``sample_context``, ``render_sample``;
- ``previews``: the staff pages under ``/mailer/preview/`` and ``EMAIL_CSP``.

Imports only ``mailer.models``; every other part of the mailer may import it.
"""
