"""Operations: the audit trail, metrics, log setup and Postfix's hold queue."""
