"""Readers and writers. Computation never opens files; everything that does lives here."""
