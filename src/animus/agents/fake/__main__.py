"""`python -m animus.agents.fake --as claude …`: run the fake agent CLI."""

from animus.agents.fake import main

main()
