"""Operations: one module per kind of change, each contributing SQL to every phase and its rollback."""
