"""Email over SMTP (stdlib smtplib)."""
