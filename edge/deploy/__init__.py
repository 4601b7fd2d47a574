"""digitlite.edge.deploy: what a device needs: the Raspberry Pi bundle, the static web page, the microcontroller sources."""
