"""Knowledge bases: user, shared, global and case working memory, and search over them."""
