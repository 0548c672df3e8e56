"""ManageSieve (RFC 5804): upload, check and activate Sieve scripts from a mail client."""
