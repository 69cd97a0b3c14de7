-- How the caller reached the agent: 'phone' (a carrier) or 'web' (a browser over WebRTC).
ALTER TABLE calls ADD COLUMN channel TEXT NOT NULL DEFAULT 'phone';
