"""Kept chats: each user's conversations, turn by turn, kept in the library and exported as transcripts."""
