"""Training and evaluation of taggers: data, TF-IDF baseline, fine-tuning, metrics.

Import the submodules directly (``tipnlp.training.train`` pulls in torch and
transformers; ``tipnlp.training.evaluate`` does not).
"""
