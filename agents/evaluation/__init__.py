"""Policy evaluation: paired rollouts on common random numbers and summary statistics."""
