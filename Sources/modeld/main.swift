print("modeld: see issue 4")
