"""The dialogue: the engine (`engine`), what a flow is (`flow`), the command registry
(`commands`), and the questions-and-answers flow (`questions`)."""
