"""train: fine-tuning the generator, the retriever, and both jointly."""
