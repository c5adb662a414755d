// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/**
 * @dev The vipnode payout pool: clients deposit ETH; the coordinator's hot *proposer* key proposes
 * one Merkle root at a time over every payee's *cumulative* entitlement; a proposed root becomes
 * the *active* root after {rootDelay}, unless the *guardian* revokes it first; payees (or anyone on
 * their behalf) claim, against the active root, the difference between their entitlement and what
 * they already claimed. A cold *owner* appoints the proposer and the guardian.
 *
 * Who can do what with the money:
 *
 * - Anyone: {deposit}; {claim} for any payee (the money always goes to the payee); {activateRoot}.
 * - Proposer (hot, the coordinator's key): {proposeRoot} only. A proposal never moves money and never
 *   changes the active root before {rootDelay} has passed; its total can never exceed what was ever
 *   deposited. A stolen proposer key can propose a root paying the thief, which the guardian revokes
 *   during the delay: it can delay payouts, nothing more (until the owner replaces it).
 * - Guardian (cold key or multisig): {revokeRoot} of a root still pending, {pause}. It can block new
 *   roots and deposits; it can never move money nor change what the active root pays.
 * - Owner (cold): {setProposer}, {setGuardian}, {pause}, {unpause}, two-step {transferOwnership}.
 *   It cannot propose roots nor touch the delay, which is fixed at deployment.
 *
 * Accounting invariant, enforced on chain whatever is proposed:
 * `totalClaimed() <= totalEntitled() <= totalReceived()`, and every wei paid out was deposited.
 */
interface IVipnodePool {
    // ─── Errors ────────────────────────────────────────────────────────────────────────

    /// @dev `account` called a function reserved to the owner.
    error VipnodePoolUnauthorizedOwner(address account);

    /// @dev `account` called {acceptOwnership} but is not the pending owner.
    error VipnodePoolUnauthorizedPendingOwner(address account);

    /// @dev `account` called {proposeRoot} but is not the proposer.
    error VipnodePoolUnauthorizedProposer(address account);

    /// @dev `account` called {revokeRoot} but is not the guardian.
    error VipnodePoolUnauthorizedGuardian(address account);

    /// @dev `account` called {pause} but is neither the owner nor the guardian.
    error VipnodePoolUnauthorizedPauser(address account);

    /// @dev A role (owner, proposer, guardian) or the fee recipient was given the zero address.
    error VipnodePoolInvalidRole(address account);

    /// @dev The constructor was given the zero address as `feeRecipient`.
    error VipnodePoolInvalidFeeRecipient(address feeRecipient);

    /// @dev `delay` is outside [`min`, `max`] seconds (`min` is 0 on the dev chain ids 1337 and 31337).
    error VipnodePoolInvalidRootDelay(uint256 delay, uint256 min, uint256 max);

    /// @dev A deposit of zero wei for `account`.
    error VipnodePoolZeroDeposit(bytes32 account);

    /// @dev A deposit for the zero account: unattributable, almost surely an unset variable.
    error VipnodePoolInvalidAccount(bytes32 account);

    /// @dev {proposeRoot} for `epoch` while the next accepted epoch is `expected`.
    error VipnodePoolInvalidEpoch(uint64 epoch, uint64 expected);

    /// @dev {proposeRoot} with a zero root, which nobody could ever claim against.
    error VipnodePoolEmptyRoot(uint64 epoch);

    /// @dev {proposeRoot} would lower the total entitlement from `previous` to `entitled`.
    error VipnodePoolEntitlementDecreased(uint256 entitled, uint256 previous);

    /// @dev {proposeRoot} would promise `entitled` wei while only `received` wei were ever deposited.
    error VipnodePoolRootExceedsBalance(uint256 entitled, uint256 received);

    /// @dev {proposeRoot} while the root of `epoch` is still pending until `claimableAt`: a pending
    /// root is never replaced (the guardian revokes it, or it becomes active first).
    error VipnodePoolRootPending(uint64 epoch, uint256 claimableAt);

    /// @dev {revokeRoot} or {activateRoot} with no pending root (or, for revoke, not this `root`).
    error VipnodePoolNoPendingRoot(bytes32 root);

    /// @dev {revokeRoot} of a root whose delay ended at `claimableAt` (it is active: irrevocable).
    error VipnodePoolRootAlreadyActive(bytes32 root, uint256 claimableAt);

    /// @dev {activateRoot} before `claimableAt`, or while paused.
    error VipnodePoolRootNotYetActive(bytes32 root, uint256 claimableAt);

    /// @dev The pool is paused and the call needs it unpaused.
    error VipnodePoolEnforcedPause();

    /// @dev The pool is not paused and the call needs it paused.
    error VipnodePoolExpectedPause();

    /// @dev A claim, deposit or activation was attempted while a claim was paying out.
    error VipnodePoolReentrantCall();

    /// @dev The leaf `(payee, cumulative)` is not in the active root.
    error VipnodePoolInvalidProof(address payee, uint256 cumulative);

    /// @dev `payee` already claimed `claimed` wei, which is not below the proven `cumulative`.
    error VipnodePoolNothingToClaim(address payee, uint256 cumulative, uint256 claimed);

    /// @dev Paying `amount` wei would exceed the `unclaimed` rest of the active total entitlement
    /// (only reachable if a root's leaves sum above its declared total).
    error VipnodePoolClaimExceedsEntitled(uint256 amount, uint256 unclaimed);

    /// @dev Sending `amount` wei to `payee` failed (it reverted or has no way to receive ETH).
    error VipnodePoolPaymentFailed(address payee, uint256 amount);

    // ─── Events ────────────────────────────────────────────────────────────────────────

    /// @dev `from` paid `amount` wei into the pool for `account` (keccak of a node ID or an address).
    event Deposited(bytes32 indexed account, address indexed from, uint256 amount);

    /// @dev The proposer proposed `root` for `epoch`, promising `totalEntitled` wei in total; it
    /// becomes the active root at `claimableAt` (unix seconds) unless revoked.
    event RootProposed(uint64 indexed epoch, bytes32 root, uint256 totalEntitled, uint256 claimableAt);

    /// @dev The guardian revoked the pending `root` of `epoch`; the active root is unchanged.
    event RootRevoked(uint64 indexed epoch, bytes32 root, address guardian);

    /// @dev `root` of `epoch` became the active root (its delay had passed): claims now prove against it.
    event RootActivated(uint64 indexed epoch, bytes32 root, uint256 totalEntitled);

    /// @dev `payee` received `amount` wei, bringing its claims to `cumulative`.
    event Claimed(address indexed payee, uint256 amount, uint256 cumulative);

    /// @dev The pool fee is paid to `feeRecipient` through an ordinary leaf in each root.
    event FeeRecipientDeclared(address indexed feeRecipient);

    /// @dev Every proposed root waits `delay` seconds before it can be claimed against (fixed for life).
    event RootDelayDeclared(uint256 delay);

    /// @dev `previousOwner` nominated `newOwner`, who must call {acceptOwnership}.
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);

    /// @dev The owner role moved from `previousOwner` to `newOwner`.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @dev The proposer role moved from `previousProposer` to `newProposer`.
    event ProposerSet(address indexed previousProposer, address indexed newProposer);

    /// @dev The guardian role moved from `previousGuardian` to `newGuardian`.
    event GuardianSet(address indexed previousGuardian, address indexed newGuardian);

    /// @dev `account` paused proposals, activations and deposits.
    event Paused(address account);

    /// @dev `account` lifted the pause.
    event Unpaused(address account);

    // ─── Functions ─────────────────────────────────────────────────────────────────────

    /// @dev Pays `msg.value` wei in for `account`; the coordinator credits it after confirmations.
    /// Reverts on zero value, on the zero account and while paused.
    function deposit(bytes32 account) external payable;

    /// @dev Proposer only, not while paused, not while another root is pending. Proposes `root` for
    /// `epoch` (exactly {lastEpoch} + 1), whose leaves sum to `totalEntitled` wei: never less than the
    /// active total, never more than {totalReceived}. It becomes active {rootDelay} seconds later.
    /// A pending root whose delay has passed is activated first.
    function proposeRoot(uint64 epoch, bytes32 root, uint256 totalEntitled) external;

    /// @dev Guardian only. Drops the pending `root` before its delay ends (also while paused).
    function revokeRoot(bytes32 root) external;

    /// @dev Anyone. Makes the pending root active once its delay has passed (not while paused).
    /// Claims and proposals do this on their own when they need it.
    function activateRoot() external;

    /// @dev Anyone may call for `payee`. Proves the leaf `(payee, cumulative)` against the active
    /// root and sends `payee` `cumulative - claimed(payee)` wei. Works while paused.
    function claim(address payee, uint256 cumulative, bytes32[] calldata proof) external;

    /// @dev Owner only. Starts a two-step handover to `newOwner`; the zero address cancels.
    function transferOwnership(address newOwner) external;

    /// @dev Completes the handover; only the pending owner may call it.
    function acceptOwnership() external;

    /// @dev Owner only. Replaces the proposer (e.g. a stolen coordinator key) at once.
    function setProposer(address newProposer) external;

    /// @dev Owner only. Replaces the guardian at once.
    function setGuardian(address newGuardian) external;

    /// @dev Owner or guardian. Stops {proposeRoot}, {deposit} and the activation of a pending root
    /// (one whose delay has already passed is activated first); claims against the active root keep
    /// working, and the guardian can still revoke the pending root.
    function pause() external;

    /// @dev Owner only. Lifts the pause.
    function unpause() external;

    /// @dev The active root, the one claims prove against (zero before the first activation). A
    /// pending root whose delay has passed counts as active, while the pool is not paused.
    function root() external view returns (bytes32);

    /// @dev The epoch of {root} (zero before the first activation).
    function lastEpoch() external view returns (uint64);

    /// @dev The pending root, its epoch, total and the time it becomes active; all zero when none.
    function pendingRoot() external view returns (uint64 epoch, bytes32 root, uint256 totalEntitled, uint256 claimableAt);

    /// @dev Seconds a proposed root waits before it becomes active.
    function rootDelay() external view returns (uint256);

    /// @dev Wei promised by {root} in total, cumulatively since the pool began.
    function totalEntitled() external view returns (uint256);

    /// @dev Wei ever deposited.
    function totalReceived() external view returns (uint256);

    /// @dev Wei ever paid out by claims.
    function totalClaimed() external view returns (uint256);

    /// @dev Cumulative wei already paid to `payee`.
    function claimed(address payee) external view returns (uint256);

    /// @dev The cold account that appoints the proposer and the guardian.
    function owner() external view returns (address);

    /// @dev The nominated next owner, or the zero address.
    function pendingOwner() external view returns (address);

    /// @dev The hot account allowed to propose roots.
    function proposer() external view returns (address);

    /// @dev The account allowed to revoke pending roots and pause.
    function guardian() external view returns (address);

    /// @dev The address whose ordinary leaf carries the pool fee (informational).
    function feeRecipient() external view returns (address);

    /// @dev Whether proposals, activations and deposits are stopped.
    function paused() external view returns (bool);
}
