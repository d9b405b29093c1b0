"""Guest images: building the tiny and Debian images, inspecting uploads."""
