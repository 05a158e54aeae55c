"""Your own images: folders of image files (`folders`) and arrays too large for memory (`streaming`)."""
