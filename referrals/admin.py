# The referral program's admin: settings, the review queue, stats and the rules' preview (to come).
