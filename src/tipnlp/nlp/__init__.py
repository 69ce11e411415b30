"""Segmentation, rules, penalty figures and the tagger interface."""
