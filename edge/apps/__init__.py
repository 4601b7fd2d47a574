"""digitlite.edge.apps: what a user runs: classify files, the camera loop, the web server, MQTT, the readings log, eval."""
