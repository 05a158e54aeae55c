"""Scaling out: data parallelism on one machine (`distribute`), several processes (`workers`), mixed precision
(`precision`)."""
