"""What is on the server: DataJoint headings read from information_schema, and the type knowledge to read them."""
