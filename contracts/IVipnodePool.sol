// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/**
 * @dev The vipnode payout pool: clients deposit ETH, the operator posts one Merkle root per
 * epoch over every payee's *cumulative* entitlement, and payees (or anyone on their behalf)
 * claim the difference between that entitlement and what they already claimed.
 *
 * Accounting invariant, enforced on chain whatever the operator posts:
 * `totalClaimed() <= totalEntitled() <= totalReceived()`, and the contract's balance is
 * `totalReceived() - totalClaimed()` (plus any ETH forced in by selfdestruct or as a block
 * reward, which is never accounted and never paid out).
 */
interface IVipnodePool {
    // ─── Errors ────────────────────────────────────────────────────────────────────────

    /// @dev `account` is not the operator but called an operator-only function.
    error VipnodePoolUnauthorizedOperator(address account);

    /// @dev `account` called {acceptOperator} but is not the pending operator.
    error VipnodePoolUnauthorizedPendingOperator(address account);

    /// @dev The constructor was given the zero address as `operator`.
    error VipnodePoolInvalidOperator(address operator);

    /// @dev The constructor was given the zero address as `feeRecipient`.
    error VipnodePoolInvalidFeeRecipient(address feeRecipient);

    /// @dev A deposit of zero wei for `account`.
    error VipnodePoolZeroDeposit(bytes32 account);

    /// @dev A deposit for the zero account: unattributable, almost surely an unset variable.
    error VipnodePoolInvalidAccount(bytes32 account);

    /// @dev {postRoot} for `epoch` while the next accepted epoch is `expected`.
    error VipnodePoolInvalidEpoch(uint64 epoch, uint64 expected);

    /// @dev {postRoot} with a zero root, which nobody could ever claim against.
    error VipnodePoolEmptyRoot(uint64 epoch);

    /// @dev {postRoot} would lower the total entitlement from `previous` to `entitled`.
    error VipnodePoolEntitlementDecreased(uint256 entitled, uint256 previous);

    /// @dev {postRoot} would promise `entitled` wei while only `received` wei were ever deposited.
    error VipnodePoolRootExceedsBalance(uint256 entitled, uint256 received);

    /// @dev The pool is paused and the call needs it unpaused.
    error VipnodePoolEnforcedPause();

    /// @dev The pool is not paused and the call needs it paused.
    error VipnodePoolExpectedPause();

    /// @dev The leaf `(payee, cumulative)` is not in the current root.
    error VipnodePoolInvalidProof(address payee, uint256 cumulative);

    /// @dev `payee` already claimed `claimed` wei, which is not below the proven `cumulative`.
    error VipnodePoolNothingToClaim(address payee, uint256 cumulative, uint256 claimed);

    /// @dev Paying `amount` wei would exceed the `unclaimed` rest of the posted total entitlement
    /// (only reachable if the operator posted a tree whose leaves sum above its declared total).
    error VipnodePoolClaimExceedsEntitled(uint256 amount, uint256 unclaimed);

    /// @dev Sending `amount` wei to `payee` failed (it reverted or has no way to receive ETH).
    error VipnodePoolPaymentFailed(address payee, uint256 amount);

    // ─── Events ────────────────────────────────────────────────────────────────────────

    /// @dev `from` paid `amount` wei into the pool for `account` (keccak of a node ID or an address).
    event Deposited(bytes32 indexed account, address indexed from, uint256 amount);

    /// @dev The operator published `root` for `epoch`, promising `totalEntitled` wei in total.
    event RootPosted(uint64 indexed epoch, bytes32 root, uint256 totalEntitled);

    /// @dev `payee` received `amount` wei, bringing its claims to `cumulative`.
    event Claimed(address indexed payee, uint256 amount, uint256 cumulative);

    /// @dev The pool fee is paid to `feeRecipient` through an ordinary leaf in each root.
    event FeeRecipientDeclared(address indexed feeRecipient);

    /// @dev `previousOperator` nominated `newOperator`, who must call {acceptOperator}.
    event OperatorTransferStarted(address indexed previousOperator, address indexed newOperator);

    /// @dev The operator role moved from `previousOperator` to `newOperator`.
    event OperatorTransferred(address indexed previousOperator, address indexed newOperator);

    /// @dev `account` paused root posting and deposits.
    event Paused(address account);

    /// @dev `account` lifted the pause.
    event Unpaused(address account);

    // ─── Functions ─────────────────────────────────────────────────────────────────────

    /// @dev Pays `msg.value` wei in for `account`; the coordinator credits it after confirmations.
    /// Reverts on zero value, on the zero account and while paused.
    function deposit(bytes32 account) external payable;

    /// @dev Operator only, not while paused. Publishes `root` for `epoch` (exactly {lastEpoch} + 1),
    /// whose leaves sum to `totalEntitled` wei: never less than the previous total, never more than
    /// {totalReceived}. Replaces the previous root.
    function postRoot(uint64 epoch, bytes32 root, uint256 totalEntitled) external;

    /// @dev Anyone may call for `payee`. Proves the leaf `(payee, cumulative)` against {root} and
    /// sends `payee` `cumulative - claimed(payee)` wei. Works while paused.
    function claim(address payee, uint256 cumulative, bytes32[] calldata proof) external;

    /// @dev Operator only. Starts a two-step handover to `newOperator`; the zero address cancels.
    function transferOperator(address newOperator) external;

    /// @dev Completes the handover; only the pending operator may call it.
    function acceptOperator() external;

    /// @dev Operator only. Stops {postRoot} and {deposit}; claims keep working.
    function pause() external;

    /// @dev Operator only. Lifts the pause.
    function unpause() external;

    /// @dev The latest posted root (zero before the first epoch).
    function root() external view returns (bytes32);

    /// @dev The epoch of {root} (zero before the first post).
    function lastEpoch() external view returns (uint64);

    /// @dev Wei promised by {root} in total, cumulatively since the pool began.
    function totalEntitled() external view returns (uint256);

    /// @dev Wei ever deposited.
    function totalReceived() external view returns (uint256);

    /// @dev Wei ever paid out by claims.
    function totalClaimed() external view returns (uint256);

    /// @dev Cumulative wei already paid to `payee`.
    function claimed(address payee) external view returns (uint256);

    /// @dev The account allowed to post roots and pause.
    function operator() external view returns (address);

    /// @dev The nominated next operator, or the zero address.
    function pendingOperator() external view returns (address);

    /// @dev The address whose ordinary leaf carries the pool fee (informational).
    function feeRecipient() external view returns (address);

    /// @dev Whether root posting and deposits are stopped.
    function paused() external view returns (bool);
}
