"""Text channels: cleaning, lexical and sentence encoders."""
