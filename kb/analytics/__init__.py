"""Analytics over the case log: metrics, reports, the demo history."""
