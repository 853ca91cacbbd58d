"""Articles from the web: fetching a page safely (:mod:`quoth.web.fetch`), extracting the
article from it (:mod:`quoth.web.extract`), and keeping linked articles in the corpus folder
and fresh (:mod:`quoth.web.links`)."""
