"""Off-chain planning: demand forecasts with prediction intervals, back-tests, guidance.

``planning.model`` turns a product's integer history into a forecast whose
published parameters are integers and whose numbers anyone recomputes
exactly; ``planning.guidance`` reads the planning law's data from a node,
builds the guidance transaction and verifies published guidance.

Imports: ``ledger``, ``proto``, ``wallet`` (and statsmodels); never the node,
the chain or the CLI.
"""
