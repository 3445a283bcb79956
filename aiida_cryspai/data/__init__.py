"""AiiDA data types of the plugin: the training set (``cryspai.dataset``) and a trained model (``cryspai.model``)."""
