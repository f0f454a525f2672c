"""Search backends behind one interface (``base.Backend``: ask / report / tell), chosen by
name in ``registry``."""
