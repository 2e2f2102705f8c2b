"""Realistic Japanese test submissions for surety-intake (importable as ``samples``).

* :mod:`samples.mails` - RFC 5322 messages: :func:`~samples.mails.build` and scenarios.
* :mod:`samples.pdfs` - key notices, certificates, policies, forms, invoices, broken PDFs.
* :mod:`samples.offices` - xlsx/docx forms, password Office files and zips.
* :mod:`samples.jis` - Outlook-style ISO-2022-JP (CP932 extensions) and its decoder.
* :mod:`samples.parties` - the office, contractors, guarantee companies, insurers, banks.
* :mod:`samples.jtext` - era dates, full-width digits, yen.

Everything is deterministic for given arguments (same bytes on every call).
"""
