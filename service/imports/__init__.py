"""Imports: existing contacts brought in from a file once (``optin import``) or from a source on
a schedule (``[imports.NAME]``), verified like a signup, with proof of where consent came from."""
