"""Known outages: the register the network operations centre feeds (register), which outages a
caller's postcode, connection type and service fall under (register.matching), possible outages
seen in the calls themselves (detect), and the callbacks when an outage is fixed (callbacks)."""
