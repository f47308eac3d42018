"""Model classes and losses the trainers use, apart from the trainer glue in train/ (as
t5x_retrieval's models.py and losses.py): the contrastive dual encoder for code search."""
