"""coach: one relationship habit at a time, by SMS and email, at an unhurried pace."""
