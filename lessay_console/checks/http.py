KINDS: tuple = ()
