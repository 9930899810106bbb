# The member-facing referral pages: link, sign-up attribution, invitations (to come).
