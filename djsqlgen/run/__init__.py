"""The only code that talks to the server: connection settings, the driver, applying files, the chunk driver."""
