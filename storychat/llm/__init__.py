"""Engines that turn chat messages into streamed text, and how models are found."""
