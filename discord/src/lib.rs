//! Discord adapter for Hearth. Empty until the Discord issue lands.
